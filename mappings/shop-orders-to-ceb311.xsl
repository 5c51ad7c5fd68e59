<?xml version="1.0" encoding="UTF-8"?>
<!--
  E-commerce platform order export (SHOP_ORDERS, xsd/partners/shop-orders.xsd) → CBEC import order CEB311
  (电子订单), one CEB311Message per Order of the batch, in batch order. Element order and content:
  ../../shared/formats/ceb-import-fields.md (OrderHead, OrderList, BaseTransfer); the customs sample
  samples/ceb/ceb311-order-valid.xml. Field by field: docs/partners/shop-orders.md.
  Amounts are mapped as the platform gives them (2 decimals): the customs rules (IMP_ORDER_PAID,
  IMP_ORDER_GOODS_VALUE, IMP_ORDER_LINE_TOTAL, IMP_ORDER_CURRENCY_RMB …) judge the result; nothing is
  recomputed or "fixed" here.
  Route parameters: copCode, copName, dxpId (BaseTransfer), ebpCode, ebpName (the platform itself).
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
      <xsl:message terminate="yes">shop-orders-to-ceb311: the input is not a shop-orders OrderBatch</xsl:message>
    </xsl:if>
    <pgm:outputs>
      <xsl:for-each select="so:OrderBatch/so:Order">
        <pgm:output>
          <xsl:apply-templates select="."/>
        </pgm:output>
      </xsl:for-each>
    </pgm:outputs>
  </xsl:template>

  <xsl:template match="so:Order">
    <xsl:call-template name="require-buyer-id">
      <xsl:with-param name="order" select="."/>
      <xsl:with-param name="mapping" select="'shop-orders-to-ceb311'"/>
    </xsl:call-template>
    <xsl:variable name="currency" select="pg:code('currency', normalize-space(so:currency))"/>
    <ceb:CEB311Message guid="{pg:guid()}" version="1.0">
      <ceb:Order>
        <ceb:OrderHead>
          <ceb:guid><xsl:value-of select="pg:guid()"/></ceb:guid>
          <ceb:appType>
            <xsl:call-template name="app-type"><xsl:with-param name="action" select="@action"/></xsl:call-template>
          </ceb:appType>
          <ceb:appTime><xsl:value-of select="pg:now('yyyyMMddHHmmss')"/></ceb:appTime>
          <!-- 2 = declared (申报): portgate signs the document before it leaves. -->
          <ceb:appStatus>2</ceb:appStatus>
          <!-- I = import order (the only kind of the import family). -->
          <ceb:orderType>I</ceb:orderType>
          <ceb:orderNo><xsl:value-of select="so:orderNo"/></ceb:orderNo>
          <ceb:ebpCode><xsl:value-of select="pg:param('ebpCode')"/></ceb:ebpCode>
          <ceb:ebpName><xsl:value-of select="pg:param('ebpName')"/></ceb:ebpName>
          <ceb:ebcCode><xsl:value-of select="so:merchant/so:customsCode"/></ceb:ebcCode>
          <ceb:ebcName><xsl:value-of select="so:merchant/so:name"/></ceb:ebcName>
          <ceb:goodsValue><xsl:value-of select="pg:amount(so:amounts/so:goods, 2)"/></ceb:goodsValue>
          <ceb:freight><xsl:value-of select="pg:amount(so:amounts/so:freight, 2)"/></ceb:freight>
          <ceb:discount><xsl:value-of select="pg:amount(so:amounts/so:discount, 2)"/></ceb:discount>
          <ceb:taxTotal><xsl:value-of select="pg:amount(so:amounts/so:tax, 2)"/></ceb:taxTotal>
          <ceb:acturalPaid><xsl:value-of select="pg:amount(so:amounts/so:paid, 2)"/></ceb:acturalPaid>
          <ceb:currency><xsl:value-of select="$currency"/></ceb:currency>
          <ceb:buyerRegNo><xsl:value-of select="so:buyer/so:account"/></ceb:buyerRegNo>
          <ceb:buyerName><xsl:value-of select="so:buyer/so:name"/></ceb:buyerName>
          <ceb:buyerTelephone><xsl:value-of select="so:buyer/so:phone"/></ceb:buyerTelephone>
          <ceb:buyerIdType>
            <xsl:call-template name="id-type"><xsl:with-param name="type" select="so:buyer/so:idType"/></xsl:call-template>
          </ceb:buyerIdType>
          <ceb:buyerIdNumber><xsl:value-of select="so:buyer/so:idNumber"/></ceb:buyerIdNumber>
          <xsl:if test="so:payment">
            <ceb:payCode><xsl:value-of select="so:payment/so:provider/so:customsCode"/></ceb:payCode>
            <ceb:payName><xsl:value-of select="so:payment/so:provider/so:name"/></ceb:payName>
            <ceb:payTransactionId><xsl:value-of select="so:payment/so:transactionId"/></ceb:payTransactionId>
          </xsl:if>
          <ceb:consignee><xsl:value-of select="so:shipTo/so:name"/></ceb:consignee>
          <ceb:consigneeTelephone><xsl:value-of select="so:shipTo/so:phone"/></ceb:consigneeTelephone>
          <ceb:consigneeAddress>
            <xsl:call-template name="address"><xsl:with-param name="to" select="so:shipTo"/></xsl:call-template>
          </ceb:consigneeAddress>
          <xsl:if test="so:shipTo/so:districtCode">
            <ceb:consigneeDistrict><xsl:value-of select="so:shipTo/so:districtCode"/></ceb:consigneeDistrict>
          </xsl:if>
          <xsl:if test="so:remark">
            <ceb:note><xsl:value-of select="so:remark"/></ceb:note>
          </xsl:if>
        </ceb:OrderHead>
        <xsl:for-each select="so:items/so:item">
          <ceb:OrderList>
            <ceb:gnum><xsl:value-of select="position()"/></ceb:gnum>
            <ceb:itemNo><xsl:value-of select="so:sku"/></ceb:itemNo>
            <ceb:itemName><xsl:value-of select="so:title"/></ceb:itemName>
            <ceb:gmodel><xsl:value-of select="so:spec"/></ceb:gmodel>
            <xsl:if test="so:description">
              <ceb:itemDescribe><xsl:value-of select="so:description"/></ceb:itemDescribe>
            </xsl:if>
            <xsl:if test="so:barcode">
              <ceb:barCode><xsl:value-of select="so:barcode"/></ceb:barCode>
            </xsl:if>
            <ceb:unit>
              <xsl:call-template name="customs-unit"><xsl:with-param name="unit" select="so:unit"/></xsl:call-template>
            </ceb:unit>
            <ceb:qty><xsl:value-of select="pg:round(so:quantity, 5)"/></ceb:qty>
            <ceb:price><xsl:value-of select="pg:amount(so:unitPrice, 2)"/></ceb:price>
            <ceb:totalPrice><xsl:value-of select="pg:amount(so:lineAmount, 2)"/></ceb:totalPrice>
            <ceb:currency><xsl:value-of select="$currency"/></ceb:currency>
            <ceb:country><xsl:value-of select="pg:code('country', normalize-space(so:originCountry))"/></ceb:country>
            <xsl:if test="so:promotion">
              <ceb:note><xsl:value-of select="so:promotion"/></ceb:note>
            </xsl:if>
          </ceb:OrderList>
        </xsl:for-each>
      </ceb:Order>
      <xsl:call-template name="base-transfer"/>
    </ceb:CEB311Message>
  </xsl:template>

</xsl:stylesheet>
