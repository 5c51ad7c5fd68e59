<?xml version="1.0" encoding="UTF-8"?>
<!--
  E-commerce platform order export (SHOP_ORDERS) → CBEC payment voucher CEB411 (支付凭证): one
  CEB411Message per Order that carries its payment, in batch order; none when no order does (the route
  marks this mapping optional). Element order: ../../shared/formats/ceb-import-fields.md (PaymentHead,
  BaseTransfer); customs sample samples/ceb/ceb411-payment-valid.xml. Field by field:
  docs/partners/shop-orders.md.
  The payer is payment/payer when the export names one, else the buyer. The amount is the payment's own
  (the store checks it against the order's acturalPaid, xsd/rules/ceb-import.toml header).
  Route parameters: copCode, copName, dxpId, ebpCode, ebpName.
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:ceb="http://www.chinaport.gov.cn/ceb"
                xmlns:so="urn:portgate:partner:shop-orders:1"
                xmlns:pg="urn:portgate:xpath"
                xmlns:pgm="urn:portgate:mapping"
                extension-element-prefixes="pg"
                exclude-result-prefixes="so pg pgm">

  <xsl:include href="shop-common.xsl"/>
  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>

  <xsl:template match="/">
    <xsl:if test="not(so:OrderBatch)">
      <xsl:message terminate="yes">shop-orders-to-ceb411: the input is not a shop-orders OrderBatch</xsl:message>
    </xsl:if>
    <!-- No paid order in the batch: an empty pgm:outputs, i.e. no output (the route's optional = true). -->
    <pgm:outputs>
      <xsl:for-each select="so:OrderBatch/so:Order[so:payment]">
        <pgm:output>
          <xsl:apply-templates select="so:payment"/>
        </pgm:output>
      </xsl:for-each>
    </pgm:outputs>
  </xsl:template>

  <xsl:template match="so:payment">
    <xsl:variable name="order" select=".."/>
    <ceb:CEB411Message guid="{pg:guid()}" version="1.0">
      <ceb:Payment>
        <ceb:PaymentHead>
          <ceb:guid><xsl:value-of select="pg:guid()"/></ceb:guid>
          <ceb:appType>
            <xsl:call-template name="app-type"><xsl:with-param name="action" select="$order/@action"/></xsl:call-template>
          </ceb:appType>
          <ceb:appTime><xsl:value-of select="pg:now('yyyyMMddHHmmss')"/></ceb:appTime>
          <ceb:appStatus>2</ceb:appStatus>
          <ceb:payCode><xsl:value-of select="so:provider/so:customsCode"/></ceb:payCode>
          <ceb:payName><xsl:value-of select="so:provider/so:name"/></ceb:payName>
          <ceb:payTransactionId><xsl:value-of select="so:transactionId"/></ceb:payTransactionId>
          <ceb:orderNo><xsl:value-of select="$order/so:orderNo"/></ceb:orderNo>
          <ceb:ebpCode><xsl:value-of select="pg:param('ebpCode')"/></ceb:ebpCode>
          <ceb:ebpName><xsl:value-of select="pg:param('ebpName')"/></ceb:ebpName>
          <xsl:choose>
            <xsl:when test="so:payer">
              <ceb:payerIdType>
                <xsl:call-template name="id-type"><xsl:with-param name="type" select="so:payer/so:idType"/></xsl:call-template>
              </ceb:payerIdType>
              <ceb:payerIdNumber><xsl:value-of select="so:payer/so:idNumber"/></ceb:payerIdNumber>
              <ceb:payerName><xsl:value-of select="so:payer/so:name"/></ceb:payerName>
              <xsl:if test="so:payer/so:phone">
                <ceb:telephone><xsl:value-of select="so:payer/so:phone"/></ceb:telephone>
              </xsl:if>
            </xsl:when>
            <xsl:otherwise>
              <xsl:if test="not(normalize-space($order/so:buyer/so:idNumber))">
                <xsl:message terminate="yes">
                  <xsl:value-of select="concat('shop-orders-to-ceb411: Order ', $order/so:orderNo,
                    ': payment has no payer and buyer/idNumber is missing; CEB411 requires the payer ID number (payerIdNumber)')"/>
                </xsl:message>
              </xsl:if>
              <ceb:payerIdType>
                <xsl:call-template name="id-type"><xsl:with-param name="type" select="$order/so:buyer/so:idType"/></xsl:call-template>
              </ceb:payerIdType>
              <ceb:payerIdNumber><xsl:value-of select="$order/so:buyer/so:idNumber"/></ceb:payerIdNumber>
              <ceb:payerName><xsl:value-of select="$order/so:buyer/so:name"/></ceb:payerName>
              <ceb:telephone><xsl:value-of select="$order/so:buyer/so:phone"/></ceb:telephone>
            </xsl:otherwise>
          </xsl:choose>
          <ceb:amountPaid><xsl:value-of select="pg:amount(so:amount, 2)"/></ceb:amountPaid>
          <ceb:currency><xsl:value-of select="pg:code('currency', normalize-space($order/so:currency))"/></ceb:currency>
          <ceb:payTime><xsl:value-of select="pg:time(so:paidAt, 'yyyyMMddHHmmss')"/></ceb:payTime>
        </ceb:PaymentHead>
      </ceb:Payment>
      <xsl:call-template name="base-transfer"/>
    </ceb:CEB411Message>
  </xsl:template>

</xsl:stylesheet>
