<?xml version="1.0" encoding="UTF-8"?>
<!--
  Shared by the e-commerce platform's mappings (shop-orders-to-ceb311/411/621.xsl, included): the
  platform's spellings turned into customs codes, and the CEB BaseTransfer block. Facts:
  ../../shared/FORMATS.md §2 (BaseTransfer, appType), formats/ceb-import-fields.md, xsd/codes/.
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:ceb="http://www.chinaport.gov.cn/ceb"
                xmlns:so="urn:portgate:partner:shop-orders:1"
                xmlns:pg="urn:portgate:xpath"
                extension-element-prefixes="pg"
                exclude-result-prefixes="so pg">

  <!-- A unit as the platform or the WMS writes it → the customs unit code (xsd/codes/unit.tsv).
       `pcs` is their word for a piece sold as one article: 件 (011), as the customs samples declare
       consumer goods; unit.tsv has no alias for it because 个/件/只 all translate as "piece". Everything
       else (kg, g, L, a 3-digit code …) goes through pg:code, which stops the mapping naming the table and
       the value when it is unknown. -->
  <xsl:template name="customs-unit">
    <xsl:param name="unit"/>
    <xsl:variable name="u" select="normalize-space($unit)"/>
    <xsl:choose>
      <xsl:when test="translate($u, 'PCS', 'pcs') = 'pcs'">011</xsl:when>
      <xsl:otherwise><xsl:value-of select="pg:code('unit', $u)"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- The platform's ID document type → buyerIdType / payerIdType: 1 resident ID card (身份证), 2 other
       (FORMATS §7 gives 1 = ID card; the field tables' label is "1-身份证"; 2 for the rest is our reading). -->
  <xsl:template name="id-type">
    <xsl:param name="type"/>
    <xsl:choose>
      <xsl:when test="normalize-space($type) = 'ID_CARD'">1</xsl:when>
      <xsl:otherwise>2</xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- The order's action → appType (FORMATS §2: 1 new, 2 change, 3 delete). -->
  <xsl:template name="app-type">
    <xsl:param name="action"/>
    <xsl:choose>
      <xsl:when test="$action = 'update'">2</xsl:when>
      <xsl:when test="$action = 'cancel'">3</xsl:when>
      <xsl:otherwise>1</xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- consigneeAddress: province + city + district + street, as written on a Chinese parcel label (no
       separators; the schema bounds the parts to fit C..200). -->
  <xsl:template name="address">
    <xsl:param name="to"/>
    <xsl:value-of select="concat(normalize-space($to/so:province), normalize-space($to/so:city),
                                 normalize-space($to/so:district), normalize-space($to/so:street))"/>
  </xsl:template>

  <!-- The sender of every document of the route (route parameters; no company is written here). -->
  <xsl:template name="base-transfer">
    <ceb:BaseTransfer>
      <ceb:copCode><xsl:value-of select="pg:param('copCode')"/></ceb:copCode>
      <ceb:copName><xsl:value-of select="pg:param('copName')"/></ceb:copName>
      <ceb:dxpMode>DXP</ceb:dxpMode>
      <ceb:dxpId><xsl:value-of select="pg:param('dxpId')"/></ceb:dxpId>
    </ceb:BaseTransfer>
  </xsl:template>

  <!-- The buyer's ID number is optional in the export but required by customs: refuse the order, naming it. -->
  <xsl:template name="require-buyer-id">
    <xsl:param name="order"/>
    <xsl:param name="mapping"/>
    <xsl:if test="not(normalize-space($order/so:buyer/so:idNumber))">
      <xsl:message terminate="yes">
        <xsl:value-of select="concat($mapping, ': Order ', $order/so:orderNo,
          ': buyer/idNumber is missing; CBEC import requires the buyer ID number (buyerIdNumber, 订购人证件号码)')"/>
      </xsl:message>
    </xsl:if>
  </xsl:template>

</xsl:stylesheet>
